build/tests/unit/test_walk.o: tests/unit/test_walk.c \
 tests/unit/../../seed/walk.c lib/util.h lib/error.h \
 tests/unit/../../seed/walk.h lib/error.h lib/tree.h lib/buf.h \
 lib/crypto.h
tests/unit/../../seed/walk.c:
lib/util.h:
lib/error.h:
tests/unit/../../seed/walk.h:
lib/error.h:
lib/tree.h:
lib/buf.h:
lib/crypto.h:
