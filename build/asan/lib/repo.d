build/asan/lib/repo.o: lib/repo.c lib/container.h lib/buf.h lib/error.h \
 lib/crypto.h lib/index.h lib/pack.h lib/blob.h lib/manifest.h lib/repo.h \
 lib/config.h lib/tree.h lib/util.h
lib/container.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/manifest.h:
lib/repo.h:
lib/config.h:
lib/tree.h:
lib/util.h:
