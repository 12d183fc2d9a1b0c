-- spisync reference registry schema (SQLite).
--
-- The registry contract of DESIGN.md: an eSSL exposes spis, dokument and
-- komponenta, plus the change log `zmeny` filled by triggers with an
-- increasing `seq`. The spisync agent only reads this database (opened with
-- mode=ro, in short read transactions); WAL mode lets the eSSL write while
-- the agent reads.

PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS spis (
    id              TEXT PRIMARY KEY,
    spisova_znacka  TEXT NOT NULL,
    nazev           TEXT NOT NULL,
    spisovy_znak    TEXT NOT NULL,
    skartacni_znak  TEXT NOT NULL CHECK (skartacni_znak IN ('A', 'S', 'V')),
    skartacni_lhuta INTEGER NOT NULL CHECK (skartacni_lhuta BETWEEN 0 AND 999),
    datum_otevreni  TEXT NOT NULL,          -- ISO date, YYYY-MM-DD
    datum_uzavreni  TEXT,                   -- ISO date or NULL
    stav            TEXT NOT NULL CHECK (stav IN ('otevreny', 'vyrizeny', 'uzavreny')),
    zpracovatel     TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS dokument (
    id               TEXT PRIMARY KEY,
    spis_id          TEXT REFERENCES spis (id),
    cislo_jednaci    TEXT NOT NULL,
    nazev            TEXT NOT NULL,
    puvod            TEXT NOT NULL CHECK (puvod IN ('doruceny', 'vlastni')),
    datum            TEXT NOT NULL,         -- ISO date
    odesilatel_autor TEXT NOT NULL,
    poradi           INTEGER NOT NULL CHECK (poradi >= 0)
);

CREATE TABLE IF NOT EXISTS komponenta (
    id             TEXT PRIMARY KEY,
    dokument_id    TEXT NOT NULL REFERENCES dokument (id),
    poradi         INTEGER NOT NULL CHECK (poradi >= 1),
    verze          INTEGER NOT NULL CHECK (verze >= 1),
    druh           TEXT NOT NULL,
    forma_uchovani TEXT NOT NULL,
    soubor         TEXT NOT NULL           -- path relative to a watched folder, '/'-separated
);

CREATE TABLE IF NOT EXISTS zmeny (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,   -- never reused, always increasing
    tabulka   TEXT NOT NULL CHECK (tabulka IN ('spis', 'dokument', 'komponenta')),
    zaznam_id TEXT NOT NULL,
    operace   TEXT NOT NULL CHECK (operace IN ('I', 'U', 'D')),
    zmeneno   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX IF NOT EXISTS zmeny_zaznam ON zmeny (tabulka, zaznam_id);

-- One trigger per table and operation. An UPDATE that changes the id is
-- logged as a delete of the old id and an insert of the new one.

CREATE TRIGGER IF NOT EXISTS spis_zmeny_i AFTER INSERT ON spis BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('spis', NEW.id, 'I');
END;
CREATE TRIGGER IF NOT EXISTS spis_zmeny_u AFTER UPDATE ON spis BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        SELECT 'spis', OLD.id, 'D' WHERE OLD.id IS NOT NEW.id;
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        VALUES ('spis', NEW.id, CASE WHEN OLD.id IS NOT NEW.id THEN 'I' ELSE 'U' END);
END;
CREATE TRIGGER IF NOT EXISTS spis_zmeny_d AFTER DELETE ON spis BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('spis', OLD.id, 'D');
END;

CREATE TRIGGER IF NOT EXISTS dokument_zmeny_i AFTER INSERT ON dokument BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('dokument', NEW.id, 'I');
END;
CREATE TRIGGER IF NOT EXISTS dokument_zmeny_u AFTER UPDATE ON dokument BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        SELECT 'dokument', OLD.id, 'D' WHERE OLD.id IS NOT NEW.id;
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        VALUES ('dokument', NEW.id, CASE WHEN OLD.id IS NOT NEW.id THEN 'I' ELSE 'U' END);
END;
CREATE TRIGGER IF NOT EXISTS dokument_zmeny_d AFTER DELETE ON dokument BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('dokument', OLD.id, 'D');
END;

CREATE TRIGGER IF NOT EXISTS komponenta_zmeny_i AFTER INSERT ON komponenta BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('komponenta', NEW.id, 'I');
END;
CREATE TRIGGER IF NOT EXISTS komponenta_zmeny_u AFTER UPDATE ON komponenta BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        SELECT 'komponenta', OLD.id, 'D' WHERE OLD.id IS NOT NEW.id;
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        VALUES ('komponenta', NEW.id, CASE WHEN OLD.id IS NOT NEW.id THEN 'I' ELSE 'U' END);
END;
CREATE TRIGGER IF NOT EXISTS komponenta_zmeny_d AFTER DELETE ON komponenta BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('komponenta', OLD.id, 'D');
END;
