-- Spisovka 3 (revision 1450 or newer) as the registry contract, through views.
--
-- For `[registry] kind = "sql"`: the DBA creates these views in a database of
-- their own (here `spisync_views`) on Spisovka's server, so that Spisovka's
-- database (here `spisovka`) is left untouched, and gives the agent's login
-- SELECT on both. The `kind = "spisovka"` adapter reads more (subjects, events,
-- vyřízení, paper, komponenty numbered 1..n); these views are the worked example
-- of the generic adapter, or a start for a revision the adapter does not know.

CREATE VIEW spisync_views.spis AS
  SELECT s.id, s.nazev AS spisova_znacka, COALESCE(NULLIF(s.popis, ''), s.nazev) AS nazev,
         COALESCE(sz.nazev, '') AS spisovy_znak, s.skartacni_znak, s.skartacni_lhuta,
         DATE(COALESCE(s.datum_otevreni, s.date_created)) AS datum_otevreni,
         DATE(s.datum_uzavreni) AS datum_uzavreni,
         IF(s.stav = 1, 'otevreny', 'uzavreny') AS stav,
         TRIM(CONCAT_WS(' ', o.titul_pred, o.jmeno, o.prijmeni)) AS zpracovatel,
         oj.plny_nazev AS zpracovatel_utvar, o.pozice AS zpracovatel_pozice,
         GREATEST(s.date_created, COALESCE(s.date_modified, s.date_created)) AS zmeneno
  FROM spisovka.spis s
  LEFT JOIN spisovka.spisovy_znak sz ON sz.id = s.spisovy_znak_id
  LEFT JOIN spisovka.orgjednotka oj ON oj.id = s.orgjednotka_id
  LEFT JOIN spisovka.user u ON u.id = s.user_created
  LEFT JOIN spisovka.osoba o ON o.id = u.osoba_id
  WHERE s.typ = 'S';
CREATE VIEW spisync_views.dokument AS
  SELECT d.id, d.spis_id, COALESCE(d.cislo_jednaci, d.jid) AS cislo_jednaci, d.nazev,
         IF(dt.smer = 0, 'doruceny', 'vlastni') AS puvod,
         DATE(COALESCE(d.datum_vzniku, d.date_created)) AS datum,
         '' AS odesilatel_autor,
         (SELECT COUNT(*) FROM spisovka.dokument d2 WHERE d2.spis_id = d.spis_id
            AND d2.stav > 0 AND d2.id <= d.id) AS poradi,
         GREATEST(d.date_created, COALESCE(d.date_modified, d.date_created)) AS zmeneno
  FROM spisovka.dokument d JOIN spisovka.dokument_typ dt ON dt.id = d.dokument_typ_id
  WHERE d.stav > 0;
CREATE VIEW spisync_views.komponenta AS
  SELECT f.id, df.dokument_id, IF(f.typ = 1, 1, 1 + f.id) AS poradi, 1 AS verze,
         IF(f.typ = 1, 'hlavní dokument', 'příloha') AS druh, 'originál' AS forma_uchovani,
         f.storage_path AS soubor, COALESCE(f.date_modified, f.date_created) AS zmeneno
  FROM spisovka.dokument_to_file df JOIN spisovka.file f ON f.id = df.file_id;
