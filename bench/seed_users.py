"""Insert N benchmark users into a seeded Tongguan SQLite database, spread over the villages of the
whole city (deterministic), reusing the verifier of a demo account. Marked is_demo=1."""
import random, sqlite3, sys, time

db, n = sys.argv[1], int(sys.argv[2])
con = sqlite3.connect(db)
verifier = con.execute("SELECT password_hash FROM users WHERE username='yc.leader'").fetchone()[0]
villages = [r[0] for r in con.execute("SELECT code FROM regions WHERE level='village' ORDER BY code")]
rng = random.Random(4453)
now = int(time.time() * 1000)
rows = []
for i in range(n):
    rows.append((f"bench{i:05d}", f"压测用户{i}", f"139{rng.randrange(10**8):08d}", rng.choice(villages), verifier, now, now, now))
con.executemany(
    "INSERT INTO users (username, display_name, phone, region_code, password_hash, must_change_password, status,"
    " password_changed_at, is_demo, created_at, updated_at) VALUES (?,?,?,?,?,0,'active',?,1,?,?)", rows)
con.commit()
