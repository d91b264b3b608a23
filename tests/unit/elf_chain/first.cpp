// Needs the second library and has no search path of its own, as
// libsystemd-core: the loader takes the copy the program already loaded.
int offroot_sample_second();
int offroot_sample_first() { return offroot_sample_second() - 1; }
