#ifndef COCOFL_DATA_KERNELS_H
#define COCOFL_DATA_KERNELS_H
// Dataset conversion loops for Sources/Platform/Datasets. Always compiled with -O3 so that debug builds of the
// platform load and batch data at release speed.
#include <stddef.h>
#include <stdint.h>

/// Writes `count` samples chosen by `indices` from uint8 NCHW `images` as float NCHW:
/// out = pixel * scale[c] + shift[c]. Returns `count`, or the position in `indices` of the first index that is
/// negative or not below `sample_count` (nothing after it is written).
size_t cocofl_normalize_batch_u8(const uint8_t *images, size_t sample_count, size_t channels, size_t plane_size,
                                 const int64_t *indices, size_t count, const float *scale, const float *shift,
                                 float *out);

/// Copies the labels chosen by `indices` to `out`; indices must already be validated.
void cocofl_gather_labels_i32(const int32_t *labels, const int64_t *indices, size_t count, int32_t *out);

/// Copies whole samples of `sample_size` bytes chosen by `indices` to `out`; indices must already be validated.
void cocofl_gather_samples_u8(const uint8_t *samples, size_t sample_size, const int64_t *indices, size_t count,
                              uint8_t *out);

/// Turns `count` single-channel `height`×`width` uint8 images into `channels`-channel images of
/// (`height` + 2·`padding`)×(`width` + 2·`padding`): each image centred in a zero border, the grey plane copied into
/// every channel (CIFAR-shaped input from MNIST-style data). `out` holds count·channels·(height+2p)·(width+2p) bytes.
void cocofl_pad_replicate_u8(const uint8_t *images, size_t count, size_t height, size_t width, size_t padding,
                             size_t channels, uint8_t *out);

/// Returns the position of the first value greater than `limit`, or `count` when there is none.
size_t cocofl_find_u8_above(const uint8_t *values, size_t count, uint8_t limit);

/// Widens uint8 labels to int32.
void cocofl_widen_u8_to_i32(const uint8_t *values, size_t count, int32_t *out);

/// Splits fixed-size records (label bytes followed by a payload) into labels and payloads: for record r,
/// labels[r] = record[label_offset] and the payload is record[payload_offset ..< payload_offset + payload_size].
/// `payloads` may be NULL to extract only the labels.
void cocofl_split_records_u8(const uint8_t *records, size_t record_count, size_t record_size, size_t label_offset,
                             size_t payload_offset, size_t payload_size, uint8_t *labels, uint8_t *payloads);

/// Parses a JSON array of numbers, `text[0]` must be '['. Values in [0, 1] are written as round(v * 255) to `out`
/// (at most `capacity` of them). On success returns the number of values in the array (which may exceed capacity)
/// and sets `*consumed` to the bytes through the closing ']'. Returns -1 for a syntax error and -2 for a value
/// outside [0, 1]; `*consumed` is then the offset of the offending byte. `text` must be NUL-terminated after `length`.
int64_t cocofl_parse_unit_array_u8(const char *text, size_t length, uint8_t *out, size_t capacity, size_t *consumed);

/// Parses a JSON array of integers, `text[0]` must be '['. Writes at most `capacity` values to `out`. Returns the
/// number of values, or -1 for a syntax error or a non-integer (offset in `*consumed`) and -2 for a value outside
/// int32. `text` must be NUL-terminated after `length`.
int64_t cocofl_parse_int_array_i32(const char *text, size_t length, int32_t *out, size_t capacity, size_t *consumed);

#endif

/// The offset of the first occurrence of `needle` (`needle_count` bytes) in `bytes` at or after `start`, or -1.
/// glibc's memmem, for scanning whole files (Storage's check of HDF5 global heaps).
long ck_find_bytes(const unsigned char *bytes, size_t count, size_t start, const unsigned char *needle,
                   size_t needle_count);
