build/asan/lib/chunker.o: lib/chunker.c lib/chunker.h
lib/chunker.h:
