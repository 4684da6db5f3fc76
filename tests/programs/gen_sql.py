# Writes the SQL script sqlite.sh feeds to sqlite3: about 300k statements over three tables
# (inserts in transactions, indexes, updates, deletes, joins, group by, blobs of many sizes) with
# query results that depend only on the seed. Usage: gen_sql.py STATEMENTS > script.sql
import random
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
rng = random.Random(1234)
out = sys.stdout
w = out.write
w("PRAGMA journal_mode=MEMORY;\nPRAGMA cache_size=-65536;\nPRAGMA temp_store=MEMORY;\n")
w("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, city TEXT, score REAL);\n")
w("CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER, note TEXT);\n")
w("CREATE TABLE blobs(id INTEGER PRIMARY KEY, data BLOB);\n")
cities = ["city%02d" % i for i in range(40)]
customers = n // 10
orders = n // 2
per_txn = 5000

count = 0
w("BEGIN;\n")
for i in range(1, customers + 1):
    w("INSERT INTO customer VALUES(%d,'name%06d','%s',%d.%02d);\n"
      % (i, rng.randrange(10**6), rng.choice(cities), rng.randrange(1000), rng.randrange(100)))
    count += 1
    if count % per_txn == 0:
        w("COMMIT;\nBEGIN;\n")
for i in range(1, orders + 1):
    note = "n" * rng.choice([0, 1, 7, 30, 100, 500])
    w("INSERT INTO orders VALUES(%d,%d,%d,'%s');\n"
      % (i, rng.randrange(1, customers + 1), rng.randrange(1, 10000), note))
    count += 1
    if count % per_txn == 0:
        w("COMMIT;\nBEGIN;\n")
for i in range(1, 2001):
    size = rng.choice([1, 100, 1000, 4096, 4100, 10000, 65536, 200000])
    w("INSERT INTO blobs VALUES(%d, zeroblob(%d) || x'%02x');\n" % (i, size, i % 256))
w("COMMIT;\n")
w("CREATE INDEX orders_customer ON orders(customer);\n")
w("CREATE INDEX customer_city ON customer(city, score);\n")

rest = n - count - 2000
w("BEGIN;\n")
for j in range(rest):
    r = rng.randrange(100)
    if r < 40:
        w("UPDATE orders SET amount=amount+%d, note=note||'u' WHERE id=%d;\n"
          % (rng.randrange(100), rng.randrange(1, orders + 1)))
    elif r < 55:
        w("DELETE FROM orders WHERE id=%d;\n" % rng.randrange(1, orders + 1))
    elif r < 70:
        w("UPDATE customer SET score=score*1.01 WHERE id=%d;\n" % rng.randrange(1, customers + 1))
    elif r < 85:
        w("INSERT INTO orders(customer, amount, note) VALUES(%d,%d,'%s');\n"
          % (rng.randrange(1, customers + 1), rng.randrange(10000), "m" * rng.randrange(300)))
    else:
        w("UPDATE blobs SET data=zeroblob(%d) WHERE id=%d;\n"
          % (rng.choice([10, 5000, 70000]), rng.randrange(1, 2001)))
    if j % per_txn == per_txn - 1:
        w("COMMIT;\nBEGIN;\n")
w("COMMIT;\n")

w(".mode list\n")
w("SELECT count(*), sum(amount), sum(length(note)) FROM orders;\n")
w("SELECT city, count(*), round(avg(score), 4) FROM customer GROUP BY city ORDER BY city;\n")
w("SELECT c.city, count(o.id), sum(o.amount) FROM customer c JOIN orders o ON o.customer = c.id "
  "GROUP BY c.city ORDER BY c.city;\n")
w("SELECT c.id, c.name, count(o.id) AS k, sum(o.amount) FROM customer c LEFT JOIN orders o "
  "ON o.customer = c.id GROUP BY c.id ORDER BY k DESC, c.id LIMIT 25;\n")
w("SELECT count(*), sum(length(data)), hex(substr(group_concat(hex(substr(data, -1)), ''), 1, 64)) "
  "FROM blobs;\n")
w("SELECT length(group_concat(note, '')) FROM (SELECT note FROM orders ORDER BY id LIMIT 20000);\n")
w("CREATE TABLE summary AS SELECT customer, sum(amount) s FROM orders GROUP BY customer;\n")
w("SELECT count(*), sum(s), max(s) FROM summary;\n")
w("PRAGMA integrity_check;\n")
