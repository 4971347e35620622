/* Runs the SQL of a file on an in-memory SQLite database and prints each
 * row as the sqlite3 shell's list mode does: columns joined by '|',
 * NULL as nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *text = malloc(n + 1);
	if (text == NULL || fread(text, 1, n, f) != (size_t)n) {
		fclose(f);
		return NULL;
	}
	text[n] = 0;
	fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.sql\n", argv[0]);
		return 2;
	}
	char *sql = slurp(argv[1]);
	if (sql == NULL) {
		perror(argv[1]);
		return 1;
	}
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
		fprintf(stderr, "sqlite3_open: %s\n", sqlite3_errmsg(db));
		return 1;
	}
	const char *next = sql;
	while (*next) {
		sqlite3_stmt *stmt;
		if (sqlite3_prepare_v2(db, next, -1, &stmt, &next) != SQLITE_OK) {
			fprintf(stderr, "Error: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		if (stmt == NULL)
			continue; /* a comment or white space */
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			int n = sqlite3_column_count(stmt);
			for (int i = 0; i < n; i++) {
				const unsigned char *v = sqlite3_column_text(stmt, i);
				printf("%s%s", i ? "|" : "", v ? (const char *)v : "");
			}
			putchar('\n');
		}
		if (rc != SQLITE_DONE) {
			fprintf(stderr, "Error: %s\n", sqlite3_errmsg(db));
			return 1;
		}
		sqlite3_finalize(stmt);
	}
	sqlite3_close(db);
	printf("sqlite %s\n", sqlite3_libversion());
	return 0;
}
