build/asan/seed/cmd_stage.o: seed/cmd_stage.c cli/cli.h lib/buf.h \
 lib/error.h lib/error.h lib/repo.h lib/blob.h lib/buf.h lib/crypto.h \
 lib/config.h lib/index.h lib/pack.h lib/tree.h lib/container.h \
 lib/manifest.h lib/lock.h lib/repo.h lib/manifest.h lib/out.h \
 seed/stage.h seed/walk.h lib/tree.h lib/util.h
cli/cli.h:
lib/buf.h:
lib/error.h:
lib/error.h:
lib/repo.h:
lib/blob.h:
lib/buf.h:
lib/crypto.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
lib/container.h:
lib/manifest.h:
lib/lock.h:
lib/repo.h:
lib/manifest.h:
lib/out.h:
seed/stage.h:
seed/walk.h:
lib/tree.h:
lib/util.h:
