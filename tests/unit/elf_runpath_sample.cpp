// A program with a DT_RUNPATH (systemd's kind: its private libraries' own
// directory) and a DT_NEEDED beyond libc, for the ELF reader's unit test.
int main() { return 0; }
