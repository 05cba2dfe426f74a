build/asan/lib/backend_local.o: lib/backend_local.c lib/repo.h lib/blob.h \
 lib/buf.h lib/error.h lib/crypto.h lib/config.h lib/index.h lib/pack.h \
 lib/tree.h lib/util.h
lib/repo.h:
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
lib/util.h:
