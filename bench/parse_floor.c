/*
 * parse_floor.c: the floor of any DOM approach, for bench/parse.sh: pages
 * per second of a bare libxml2 htmlReadMemory (parse + free, no extraction)
 * over the given files, repeated until at least 3 s have passed.
 */
#include <libxml/HTMLparser.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	char	  **buf = calloc(argc, sizeof(char *));
	long	   *len = calloc(argc, sizeof(long));
	long		pages = 0;
	double		start;

	for (int i = 1; i < argc; i++)
	{
		FILE	   *f = fopen(argv[i], "rb");

		if (!f)
			return 1;
		fseek(f, 0, SEEK_END);
		len[i] = ftell(f);
		rewind(f);
		buf[i] = malloc(len[i]);
		if (fread(buf[i], 1, len[i], f) != (size_t) len[i])
			return 1;
		fclose(f);
	}
	start = now();
	while (now() - start < 3.0)
		for (int i = 1; i < argc; i++, pages++)
			xmlFreeDoc(htmlReadMemory(buf[i], len[i], "page", "UTF-8",
									  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET));
	printf("%.0f\n", pages / (now() - start));
	return 0;
}
