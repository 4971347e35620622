-- A query workload for SQLite: tables filled by a recursive CTE, indexes,
-- joins, aggregates, window functions, JSON, full-text search, a trigger,
-- a view, savepoints. Its output is compared with the sqlite3 shell's.
PRAGMA foreign_keys = ON;
CREATE TABLE city(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, country TEXT);
CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT, age INTEGER, city INTEGER REFERENCES city(id), score REAL);
CREATE TABLE log(msg TEXT);
CREATE TRIGGER person_old AFTER UPDATE OF age ON person WHEN new.age > 99
BEGIN INSERT INTO log VALUES ('old: ' || new.name); END;
INSERT INTO city(name, country) VALUES ('Lisbon', 'PT'), ('Porto', 'PT'), ('Oslo', 'NO'), ('Lima', 'PE'), ('Quito', 'EC');
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO person(name, age, city, score)
SELECT 'p' || i, i % 90 + 10, i % 5 + 1, (i * 7919 % 1000) / 10.0 FROM n;
COMMIT;
CREATE INDEX person_age ON person(age);
CREATE INDEX person_city_score ON person(city, score DESC);
ANALYZE;
SELECT count(*), sum(age), min(score), max(score), printf('%.3f', avg(score)) FROM person;
SELECT c.name, count(*), printf('%.2f', avg(p.score)) FROM person p JOIN city c ON c.id = p.city GROUP BY c.name ORDER BY c.name;
SELECT age, count(*) FROM person WHERE age BETWEEN 40 AND 45 GROUP BY age HAVING count(*) > 0 ORDER BY age DESC;
SELECT name, score, rank() OVER (PARTITION BY city ORDER BY score DESC, id) AS r FROM person WHERE id <= 30 ORDER BY city, r LIMIT 8;
SELECT id, sum(score) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM person WHERE id <= 6;
SELECT json_object('city', name, 'people', (SELECT count(*) FROM person WHERE city = city.id)) FROM city ORDER BY id;
SELECT json_extract('{"a":[1,2,{"b":"deep"}]}', '$.a[2].b'), json_array_length('[1,2,3,4]');
SELECT key, value FROM json_each('{"x":1,"y":[2,3],"z":null}');
CREATE VIRTUAL TABLE doc USING fts5(title, body);
INSERT INTO doc VALUES ('linker', 'a link editor joins objects into a program'),
  ('loader', 'the run-time linker loads shared libraries'),
  ('archive', 'an archive holds objects the link editor extracts by need');
SELECT title FROM doc WHERE doc MATCH 'link* AND objects' ORDER BY rank;
SELECT highlight(doc, 1, '[', ']') FROM doc WHERE doc MATCH 'loads';
UPDATE person SET age = 100 WHERE id IN (7, 11);
SELECT msg FROM log ORDER BY msg;
CREATE VIEW adults AS SELECT name FROM person WHERE age >= 18;
SELECT count(*) FROM adults;
SAVEPOINT s1;
DELETE FROM person WHERE city = 3;
SELECT count(*) FROM person;
ROLLBACK TO s1;
RELEASE s1;
SELECT count(*) FROM person;
SELECT upper('abc'), length('héllo'), hex(zeroblob(3)), quote('it''s'), substr('linker', 2, 3), replace('a-b-c', '-', '+'), instr('hello', 'll');
SELECT typeof(1), typeof(1.5), typeof('x'), typeof(x'00'), typeof(NULL), 7 / 2, 7 % 3, 1 << 10, abs(-5), coalesce(NULL, 'd');
SELECT group_concat(name, ',') FROM (SELECT name FROM city ORDER BY name DESC);
SELECT date('2024-02-28', '+1 day'), strftime('%j', '2024-12-31'), julianday('2000-01-01') - julianday('1999-12-31');
WITH RECURSIVE fib(a, b, n) AS (SELECT 0, 1, 0 UNION ALL SELECT b, a + b, n + 1 FROM fib WHERE n < 50) SELECT max(a) FROM fib;
PRAGMA integrity_check;
