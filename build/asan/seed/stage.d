build/asan/seed/stage.o: seed/stage.c lib/blob.h lib/buf.h lib/error.h \
 lib/crypto.h lib/chunker.h lib/container.h lib/index.h lib/pack.h \
 lib/blob.h lib/manifest.h lib/index.h lib/manifest.h lib/pack.h \
 seed/stage.h lib/error.h lib/out.h lib/repo.h lib/config.h lib/tree.h \
 seed/walk.h lib/tree.h lib/util.h
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/chunker.h:
lib/container.h:
lib/index.h:
lib/pack.h:
lib/blob.h:
lib/manifest.h:
lib/index.h:
lib/manifest.h:
lib/pack.h:
seed/stage.h:
lib/error.h:
lib/out.h:
lib/repo.h:
lib/config.h:
lib/tree.h:
seed/walk.h:
lib/tree.h:
lib/util.h:
