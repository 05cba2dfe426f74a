build/tests/fuzz/fuzz_pack.o: tests/fuzz/fuzz_pack.c lib/pack.h \
 lib/blob.h lib/buf.h lib/error.h lib/crypto.h lib/util.h
lib/pack.h:
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
