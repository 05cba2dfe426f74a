build/asan/tests/unit/test_restore_malicious.o: \
 tests/unit/test_restore_malicious.c tests/unit/../../restore/restore.c \
 tests/unit/../../restore/restore.h lib/buf.h lib/error.h lib/crypto.h \
 lib/error.h lib/out.h lib/tree.h lib/buf.h lib/crypto.h lib/util.h
tests/unit/../../restore/restore.c:
tests/unit/../../restore/restore.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/error.h:
lib/out.h:
lib/tree.h:
lib/buf.h:
lib/crypto.h:
lib/util.h:
