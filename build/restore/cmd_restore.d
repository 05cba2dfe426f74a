build/restore/cmd_restore.o: restore/cmd_restore.c lib/blob.h lib/buf.h \
 lib/error.h lib/crypto.h cli/cli.h lib/buf.h lib/error.h lib/repo.h \
 lib/blob.h lib/config.h lib/index.h lib/pack.h lib/tree.h lib/out.h \
 restore/restore.h lib/crypto.h lib/tree.h lib/util.h
lib/blob.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
cli/cli.h:
lib/buf.h:
lib/error.h:
lib/repo.h:
lib/blob.h:
lib/config.h:
lib/index.h:
lib/pack.h:
lib/tree.h:
lib/out.h:
restore/restore.h:
lib/crypto.h:
lib/tree.h:
lib/util.h:
