#define _GNU_SOURCE
#include "data_kernels.h"

#include <string.h>

size_t cocofl_normalize_batch_u8(const uint8_t *images, size_t sample_count, size_t channels, size_t plane_size,
                                 const int64_t *indices, size_t count, const float *scale, const float *shift,
                                 float *out) {
    const size_t sample_size = channels * plane_size;
    for (size_t position = 0; position < count; position++) {
        const int64_t index = indices[position];
        if (index < 0 || (uint64_t)index >= sample_count) return position;
        const uint8_t *sample = images + (size_t)index * sample_size;
        float *destination = out + position * sample_size;
        for (size_t channel = 0; channel < channels; channel++) {
            const float channel_scale = scale[channel];
            const float channel_shift = shift[channel];
            const uint8_t *source_plane = sample + channel * plane_size;
            float *destination_plane = destination + channel * plane_size;
            for (size_t pixel = 0; pixel < plane_size; pixel++) {
                destination_plane[pixel] = (float)source_plane[pixel] * channel_scale + channel_shift;
            }
        }
    }
    return count;
}

void cocofl_gather_labels_i32(const int32_t *labels, const int64_t *indices, size_t count, int32_t *out) {
    for (size_t position = 0; position < count; position++) out[position] = labels[indices[position]];
}

void cocofl_gather_samples_u8(const uint8_t *samples, size_t sample_size, const int64_t *indices, size_t count,
                              uint8_t *out) {
    for (size_t position = 0; position < count; position++) {
        memcpy(out + position * sample_size, samples + (size_t)indices[position] * sample_size, sample_size);
    }
}

void cocofl_pad_replicate_u8(const uint8_t *images, size_t count, size_t height, size_t width, size_t padding,
                             size_t channels, uint8_t *out) {
    const size_t padded_width = width + 2 * padding;
    const size_t plane = (height + 2 * padding) * padded_width;
    for (size_t image = 0; image < count; image++) {
        const uint8_t *source = images + image * height * width;
        uint8_t *first = out + image * channels * plane;
        memset(first, 0, plane);
        for (size_t row = 0; row < height; row++) {
            memcpy(first + (row + padding) * padded_width + padding, source + row * width, width);
        }
        for (size_t channel = 1; channel < channels; channel++) memcpy(first + channel * plane, first, plane);
    }
}

size_t cocofl_find_u8_above(const uint8_t *values, size_t count, uint8_t limit) {
    // Branch-free maximum per block first, so the common all-valid case vectorizes.
    const size_t block = 4096;
    for (size_t start = 0; start < count; start += block) {
        const size_t end = start + block < count ? start + block : count;
        uint8_t maximum = 0;
        for (size_t i = start; i < end; i++) maximum = values[i] > maximum ? values[i] : maximum;
        if (maximum > limit) {
            for (size_t i = start; i < end; i++) {
                if (values[i] > limit) return i;
            }
        }
    }
    return count;
}

void cocofl_widen_u8_to_i32(const uint8_t *values, size_t count, int32_t *out) {
    for (size_t i = 0; i < count; i++) out[i] = (int32_t)values[i];
}

void cocofl_split_records_u8(const uint8_t *records, size_t record_count, size_t record_size, size_t label_offset,
                             size_t payload_offset, size_t payload_size, uint8_t *labels, uint8_t *payloads) {
    for (size_t record = 0; record < record_count; record++) {
        const uint8_t *source = records + record * record_size;
        labels[record] = source[label_offset];
        if (payloads) memcpy(payloads + record * payload_size, source + payload_offset, payload_size);
    }
}

// ---- JSON number arrays ------------------------------------------------------------------------------------------

static int is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

static const double powers_of_ten[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

// Parses one JSON number at text[*offset]. Precise to about 1e-15 relative, which is far below what the callers keep
// (a byte per value), and several times faster than strtod. Returns 0 on a syntax error.
static int parse_json_number(const char *text, size_t length, size_t *offset, double *value, int *is_integer) {
    size_t i = *offset;
    int negative = 0;
    if (i < length && text[i] == '-') { negative = 1; i++; }
    if (i >= length || text[i] < '0' || text[i] > '9') return 0;
    uint64_t mantissa = 0;
    int significant_digits = 0;
    int exponent = 0;
    if (text[i] == '0') {
        i++;
    } else {
        while (i < length && text[i] >= '0' && text[i] <= '9') {
            if (significant_digits < 19) { mantissa = mantissa * 10 + (uint64_t)(text[i] - '0'); significant_digits++; }
            else exponent++;
            i++;
        }
    }
    *is_integer = 1;
    if (i < length && text[i] == '.') {
        *is_integer = 0;
        i++;
        if (i >= length || text[i] < '0' || text[i] > '9') return 0;
        while (i < length && text[i] >= '0' && text[i] <= '9') {
            if (significant_digits < 19) {
                // Zeros before the first significant digit only move the decimal point.
                if (mantissa == 0 && text[i] == '0') { exponent--; }
                else { mantissa = mantissa * 10 + (uint64_t)(text[i] - '0'); significant_digits++; exponent--; }
            }
            i++;
        }
    }
    if (i < length && (text[i] == 'e' || text[i] == 'E')) {
        *is_integer = 0;
        i++;
        int exponent_negative = 0;
        if (i < length && (text[i] == '+' || text[i] == '-')) { exponent_negative = text[i] == '-'; i++; }
        if (i >= length || text[i] < '0' || text[i] > '9') return 0;
        int written = 0;
        while (i < length && text[i] >= '0' && text[i] <= '9') {
            if (written < 10000) written = written * 10 + (text[i] - '0');
            i++;
        }
        exponent += exponent_negative ? -written : written;
    }
    double result = (double)mantissa;
    if (mantissa != 0) {
        int remaining = exponent;
        while (remaining > 22) { result *= 1e22; remaining -= 22; if (result > 1e300) break; }
        while (remaining < -22) { result /= 1e22; remaining += 22; if (result == 0.0) break; }
        if (remaining >= 0) result *= powers_of_ten[remaining > 22 ? 22 : remaining];
        else result /= powers_of_ten[-remaining < 22 ? -remaining : 22];
    }
    *value = negative ? -result : result;
    *offset = i;
    return 1;
}

// Shared scanner for both array kinds: `kind` 0 stores unit values as bytes, 1 stores int32 integers.
static int64_t parse_number_array(const char *text, size_t length, void *out, size_t capacity, size_t *consumed,
                                  int kind) {
    size_t i = 0;
    if (length == 0 || text[0] != '[') { *consumed = 0; return -1; }
    i = 1;
    while (i < length && is_json_space(text[i])) i++;
    int64_t count = 0;
    if (i < length && text[i] == ']') { *consumed = i + 1; return 0; }
    for (;;) {
        while (i < length && is_json_space(text[i])) i++;
        const size_t number_start = i;
        double value = 0;
        int is_integer = 0;
        if (!parse_json_number(text, length, &i, &value, &is_integer)) { *consumed = i; return -1; }
        if (kind == 0) {
            // A tolerance of 1e-6 absorbs values written as 1.0000000000000002 by float arithmetic upstream.
            if (!(value >= -1e-6 && value <= 1.0 + 1e-6)) { *consumed = number_start; return -2; }
            if ((size_t)count < capacity) {
                double scaled = value * 255.0 + 0.5;
                ((uint8_t *)out)[count] = scaled <= 0 ? 0 : scaled >= 255 ? 255 : (uint8_t)scaled;
            }
        } else {
            if (!is_integer) { *consumed = number_start; return -1; }
            if (value < -2147483648.0 || value > 2147483647.0) { *consumed = number_start; return -2; }
            if ((size_t)count < capacity) ((int32_t *)out)[count] = (int32_t)value;
        }
        count++;
        while (i < length && is_json_space(text[i])) i++;
        if (i >= length) { *consumed = i; return -1; }
        if (text[i] == ',') { i++; continue; }
        if (text[i] == ']') { *consumed = i + 1; return count; }
        *consumed = i;
        return -1;
    }
}

int64_t cocofl_parse_unit_array_u8(const char *text, size_t length, uint8_t *out, size_t capacity, size_t *consumed) {
    return parse_number_array(text, length, out, capacity, consumed, 0);
}

int64_t cocofl_parse_int_array_i32(const char *text, size_t length, int32_t *out, size_t capacity, size_t *consumed) {
    return parse_number_array(text, length, out, capacity, consumed, 1);
}

long ck_find_bytes(const unsigned char *bytes, size_t count, size_t start, const unsigned char *needle,
                   size_t needle_count) {
    if (start >= count) return -1;
    const unsigned char *hit = memmem(bytes + start, count - start, needle, needle_count);
    return hit ? (long)(hit - bytes) : -1;
}
