int offroot_sample_first();
int offroot_sample_second();
int main() { return offroot_sample_first() + offroot_sample_second() == 3 ? 0 : 1; }
