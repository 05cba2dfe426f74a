build/lib/config.o: lib/config.c lib/config.h lib/buf.h lib/error.h \
 lib/crypto.h lib/util.h
lib/config.h:
lib/buf.h:
lib/error.h:
lib/crypto.h:
lib/util.h:
