// Found only through the program's RUNPATH, as libsystemd-shared is.
int offroot_sample_second() { return 2; }
