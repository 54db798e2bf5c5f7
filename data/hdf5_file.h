#pragma once
// What kat checks in an HDF5 file's first bytes before the HDF5 library parses any of it.

#include <string>

namespace kat {

// The version of the superblock at the start of the file: 0 or 1 in HDF5's default layout, whose
// metadata carries no checksums (HDF5 1.10 parses it as found, and damaged metadata can make it read
// out of bounds); 2 in the 1.8 layout, where every object header carries a checksum that HDF5
// verifies but the chunk index of a chunked dataset does not; 3 in the 1.10 layout, where all
// metadata does. -1 when the file does not start with an HDF5 superblock (another format, an empty
// or cut file, or a user block first). Datasets are written with version 3, checkpoints with 2.
int hdf5_superblock_version(const std::string& path);

}  // namespace kat
