build/asan/lib/container.o: lib/container.c lib/container.h lib/buf.h \
 lib/error.h lib/crypto.h lib/index.h lib/pack.h lib/blob.h \
 lib/manifest.h lib/util.h
lib/container.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/manifest.h:
lib/util.h:
