// LeakSanitizer's default suppressions, for the test programs of a KAT_SANITIZE build and the
// fuzz programs of a KAT_FUZZ build (in other builds nothing calls this).
//
// HDF5 1.10 (Debian 12's libhdf5-103) leaks the object header it was loading when it refuses a
// damaged one (a checksum that does not match, a corrupt message): a C program calling only
// H5Fopen and H5Aopen or H5Dopen2 on such a file leaks the same bytes. kat closes every identifier
// it opens, and one left open would stay reachable through HDF5's tables, not leak, so this hides
// no leak of kat's. HDF5 has no frame pointers: the report's stack ends inside the library, so the
// suppression names the module.
extern "C" const char* __lsan_default_suppressions() { return "leak:libhdf5\n"; }
