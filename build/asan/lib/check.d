build/asan/lib/check.o: lib/check.c lib/check.h lib/crypto.h lib/error.h \
 lib/manifest.h lib/buf.h lib/out.h lib/container.h lib/index.h \
 lib/pack.h lib/blob.h lib/util.h
lib/check.h:
lib/crypto.h:
lib/error.h:
lib/manifest.h:
lib/buf.h:
lib/out.h:
lib/container.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/util.h:
