/* Writes the two HDF5 seeds of the fuzz corpus: a 2-image dataset file and an empty results file.
   Build and run: cc make-hdf5-seeds.c $(pkg-config --cflags --libs hdf5) -o /tmp/seeds && /tmp/seeds OUT_DIR */
#include <hdf5.h>
#include <stdio.h>
#include <string.h>

static void write_u8(hid_t file, const char *key, int rank, const hsize_t *dims, const unsigned char *data) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t set = H5Dcreate2(file, key, H5T_NATIVE_UCHAR, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(set, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(set); H5Pclose(lcpl); H5Sclose(space);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/FuzzHDF5Dataset/tiny.h5", argv[1]);
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    unsigned char pixels[2 * 1 * 4 * 4];
    for (int i = 0; i < (int)sizeof pixels; i++) pixels[i] = (unsigned char)(i * 16);
    hsize_t imageDims[4] = {2, 1, 4, 4}, labelDims[1] = {2};
    unsigned char labels[2] = {0, 1};
    write_u8(file, "train/images", 4, imageDims, pixels);
    write_u8(file, "train/labels", 1, labelDims, labels);
    write_u8(file, "train/device_ids", 1, labelDims, labels);
    write_u8(file, "test/images", 4, imageDims, pixels);
    write_u8(file, "test/labels", 1, labelDims, labels);
    hid_t scalar = H5Screate(H5S_SCALAR);
    long long classes = 2;
    hid_t attribute = H5Acreate2(file, "classes", H5T_NATIVE_LLONG, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, H5T_NATIVE_LLONG, &classes); H5Aclose(attribute);
    H5Fclose(file);

    snprintf(path, sizeof path, "%s/FuzzResultsFile/empty.h5", argv[1]);
    file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    long long version = 1;
    attribute = H5Acreate2(file, "format_version", H5T_NATIVE_LLONG, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, H5T_NATIVE_LLONG, &version); H5Aclose(attribute);
    const char *createdBy = "cocofl 0.1.0";
    hid_t text = H5Tcopy(H5T_C_S1);
    H5Tset_size(text, H5T_VARIABLE);
    H5Tset_cset(text, H5T_CSET_UTF8);
    attribute = H5Acreate2(file, "created_by", text, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attribute, text, &createdBy); H5Aclose(attribute);
    H5Gclose(H5Gcreate2(file, "/runs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Gclose(H5Gcreate2(file, "/profiles", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Tclose(text); H5Sclose(scalar); H5Fclose(file);
    return 0;
}
