build/tests/fuzz/replay_main.o: tests/fuzz/replay_main.c lib/buf.h \
 lib/error.h
lib/buf.h:
lib/error.h:
