// A library that fake plugins link and tests leave out of the loader's reach, standing for a
// missing ROCm runtime library.
extern "C" int tgrack_test_rocm_stand_in() { return 1; }
