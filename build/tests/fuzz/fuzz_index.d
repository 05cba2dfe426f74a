build/tests/fuzz/fuzz_index.o: tests/fuzz/fuzz_index.c lib/index.h \
 lib/buf.h lib/error.h lib/crypto.h lib/pack.h lib/blob.h lib/util.h
lib/index.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/pack.h:
lib/blob.h:
lib/util.h:
