"""The seed's pipeline: read measurements, fit a line, keep the results.

Reads /data/measurements.csv (x,y), fits y = slope * x + intercept with numpy, stores the fit
in the database (table `fits`) and writes a report to /reports/report.txt. The output is the
same wherever it runs: the same images, the same data, the same numbers.
"""

import os

import numpy as np
import psycopg2

data = np.loadtxt("/data/measurements.csv", delimiter=",", skiprows=1)
x, y = data[:, 0], data[:, 1]
slope, intercept = np.polyfit(x, y, 1)
pred = slope * x + intercept
r2 = 1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum()

password = open("/run/secrets/db_password").read().strip()
conn = psycopg2.connect(host=os.environ["DB_HOST"], user="postgres", password=password, dbname="postgres")
with conn, conn.cursor() as cur:
    cur.execute("CREATE TABLE IF NOT EXISTS fits (id serial PRIMARY KEY, slope numeric, intercept numeric, r2 numeric, n integer)")
    cur.execute(
        "INSERT INTO fits (slope, intercept, r2, n) VALUES (%s, %s, %s, %s)",
        (round(float(slope), 6), round(float(intercept), 6), round(float(r2), 6), len(x)),
    )
conn.close()

summary = f"n={len(x)} slope={slope:.6f} intercept={intercept:.6f} r2={r2:.6f}"
with open("/reports/report.txt", "w") as f:
    f.write(summary + "\n")
print(summary)
