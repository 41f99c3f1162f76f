/*
 * fuzz_test_key.h: a fixed private key for the fuzz targets, so that fuzz/run.sh
 * can seal seed files to fuzz/fuzz-test.pub. It protects nothing: TEST ONLY.
 */
#define DCR_FUZZ_TEST_KEY                                                                          \
    "dcr-key-v1:cf68fad4a6b77828a314ff8c120b95e6e4a5c9f017c8ee86b47dac290d2cfcdd:"                 \
    "4b234e3131e5245ac1a5acae320f30f1f8d31a65066d89a0b9a1dba99d72c4f5"
