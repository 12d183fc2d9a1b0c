-- spisync reference registry schema (SQLite).
--
-- The registry contract of DESIGN.md: an eSSL exposes spis, dokument and
-- komponenta, plus the change log `zmeny` filled by triggers with an
-- increasing `seq`. Optional parts (columns marked "optional" and the
-- tables `subjekt` and `udalost`) carry what an archive package needs
-- (NSESSS names in README.md "The registry contract"); a registry made
-- from an older version of this file, without them, is still read. The spisync agent only reads this database (opened with
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
    zpracovatel     TEXT NOT NULL,
    -- optional: the zpracovatel's organisational unit and position
    zpracovatel_utvar   TEXT,
    zpracovatel_pozice  TEXT,
    -- optional: vyřízení (způsob as NSESSS names it, e.g. 'vyřízení dokumentem')
    vyrizeni_zpusob     TEXT,
    vyrizeni_datum      TEXT,               -- ISO date
    vyrizeni_obsah      TEXT,
    vyrizeni_oduvodneni TEXT,
    -- optional: retention (spisový plán, věcná skupina, skartační režim)
    spisovy_plan_identifikator    TEXT,
    spisovy_plan_nazev            TEXT,
    spisovy_plan_platnost_od      TEXT,     -- ISO date
    spisovy_plan_platnost_do      TEXT,     -- ISO date
    vecna_skupina_nazev           TEXT,
    skartacni_rezim_identifikator TEXT,
    skartacni_rezim_nazev         TEXT,
    spousteci_udalost             TEXT,     -- e.g. 'uzavření spisu'
    spousteci_udalost_datum       TEXT,     -- ISO date
    -- optional: where the paper part is kept (e.g. 'karton č. 12')
    ukladaci_jednotka   TEXT
);

CREATE TABLE IF NOT EXISTS dokument (
    id               TEXT PRIMARY KEY,
    spis_id          TEXT REFERENCES spis (id),
    cislo_jednaci    TEXT NOT NULL,
    nazev            TEXT NOT NULL,
    puvod            TEXT NOT NULL CHECK (puvod IN ('doruceny', 'vlastni')),
    datum            TEXT NOT NULL,         -- ISO date
    odesilatel_autor TEXT NOT NULL,
    poradi           INTEGER NOT NULL CHECK (poradi >= 0),
    -- optional: the clerk (autor of a vlastní dokument), unit and position
    zpracovatel              TEXT,
    zpracovatel_utvar        TEXT,
    zpracovatel_pozice       TEXT,
    odesilatel_cislo_jednaci TEXT,          -- the sender's own reference number
    datum_odeslani           TEXT,          -- ISO date, a vlastní dokument's dispatch
    vyrizeni_zpusob          TEXT,
    vyrizeni_datum           TEXT,          -- ISO date
    vyrizeni_obsah           TEXT,
    vyrizeni_oduvodneni      TEXT,
    -- optional: analogue or digital; quantity; storage unit of the paper
    analogovy                INTEGER CHECK (analogovy IN (0, 1)),
    mnozstvi                 TEXT,          -- e.g. '1 list, 2 přílohy'
    odeslane_mnozstvi        TEXT,
    ukladaci_jednotka        TEXT
);

CREATE TABLE IF NOT EXISTS komponenta (
    id             TEXT PRIMARY KEY,
    dokument_id    TEXT NOT NULL REFERENCES dokument (id),
    poradi         INTEGER NOT NULL CHECK (poradi >= 1),
    verze          INTEGER NOT NULL CHECK (verze >= 1),
    druh           TEXT NOT NULL,
    forma_uchovani TEXT NOT NULL,
    soubor         TEXT NOT NULL,          -- path relative to a watched folder, '/'-separated
    -- optional: what the eSSL recorded about the file; a scan has
    -- forma_uchovani = 'digitalizát'
    nazev_souboru  TEXT,
    mime_type      TEXT,
    velikost       INTEGER,
    vytvoreno      TEXT                    -- ISO date-time
);

-- Optional: the odesílatel of a doručený dokument and the adresáti of a
-- vlastní one. A change here is a change of the dokument.
CREATE TABLE IF NOT EXISTS subjekt (
    id              TEXT PRIMARY KEY,
    dokument_id     TEXT NOT NULL REFERENCES dokument (id),
    role            TEXT NOT NULL CHECK (role IN ('odesilatel', 'adresat')),
    typ             TEXT NOT NULL CHECK (typ IN ('fyzicka_osoba', 'pravnicka_osoba', 'ovm')),
    nazev           TEXT NOT NULL,          -- person's or organisation's name
    osoba           TEXT,                   -- a person acting for the organisation
    ico             TEXT,
    postovni_adresa TEXT,
    datova_schranka TEXT,
    email           TEXT,
    cislo_jednaci   TEXT,                   -- the sender's own reference number
    datum_odeslani  TEXT                    -- ISO date of dispatch to this adresát
);
CREATE INDEX IF NOT EXISTS subjekt_dokument ON subjekt (dokument_id);

-- Optional: the eSSL's own log of real events (when, who, what) of a spis,
-- dokument or komponenta; typ is an NSESSS event name where one fits
-- (SpisZalozeni, SpisUzavreni, DokumentVlozeniDoSpisu, SouborNovaVerze, ...).
-- A new event is a change of the record it belongs to.
CREATE TABLE IF NOT EXISTS udalost (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tabulka   TEXT NOT NULL CHECK (tabulka IN ('spis', 'dokument', 'komponenta')),
    zaznam_id TEXT NOT NULL,
    kdy       TEXT NOT NULL,                -- ISO date-time, with offset where known
    kdo       TEXT,
    typ       TEXT NOT NULL,
    popis     TEXT
);
CREATE INDEX IF NOT EXISTS udalost_zaznam ON udalost (tabulka, zaznam_id);

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


-- A subject or an event changes the record it belongs to.
CREATE TRIGGER IF NOT EXISTS subjekt_zmeny_i AFTER INSERT ON subjekt BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('dokument', NEW.dokument_id, 'U');
END;
CREATE TRIGGER IF NOT EXISTS subjekt_zmeny_u AFTER UPDATE ON subjekt BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace)
        SELECT 'dokument', OLD.dokument_id, 'U' WHERE OLD.dokument_id IS NOT NEW.dokument_id;
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('dokument', NEW.dokument_id, 'U');
END;
CREATE TRIGGER IF NOT EXISTS subjekt_zmeny_d AFTER DELETE ON subjekt BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES ('dokument', OLD.dokument_id, 'U');
END;

CREATE TRIGGER IF NOT EXISTS udalost_zmeny_i AFTER INSERT ON udalost BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES (NEW.tabulka, NEW.zaznam_id, 'U');
END;
CREATE TRIGGER IF NOT EXISTS udalost_zmeny_u AFTER UPDATE ON udalost BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES (NEW.tabulka, NEW.zaznam_id, 'U');
END;
CREATE TRIGGER IF NOT EXISTS udalost_zmeny_d AFTER DELETE ON udalost BEGIN
    INSERT INTO zmeny (tabulka, zaznam_id, operace) VALUES (OLD.tabulka, OLD.zaznam_id, 'U');
END;
