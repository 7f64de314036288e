#!/usr/bin/env bash
# Installs the Debian packages the project needs (oneDNN, HDF5, zlib, Fashion-MNIST, OpenMPI; h5py for the tests that
# read a results file the way users do). OpenMPI is a build dependency: cocofl links it for MPI ranks (it never
# initializes MPI unless started by mpirun or srun). Idempotent; needs root.
set -euo pipefail
packages=(libdnnl-dev libhdf5-dev hdf5-tools zlib1g-dev dataset-fashion-mnist pkg-config python3-h5py openmpi-bin libopenmpi-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages: ${missing[*]}; run this script as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "system packages: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
