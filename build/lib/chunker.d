build/lib/chunker.o: lib/chunker.c lib/chunker.h
lib/chunker.h:
