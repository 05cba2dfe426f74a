/* What every backend and every user of one share: freeing a backend and a list of names.
 * Apart from lib/backend.c (the dispatcher) so that the backends, which use these, do not
 * refer back to the dispatcher, which refers to them. */
#include <stdlib.h>

#include "repo.h"

void
ofs_backend_free(struct ofs_backend *b)
{
	if (b != NULL)
		b->ops->free(b);
}

void
ofs_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
