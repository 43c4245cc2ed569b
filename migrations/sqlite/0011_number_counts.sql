-- How many numbers each WABA holds (SQLite), kept by triggers, so the numbers list reads
-- its total from one small row per WABA instead of counting every number of the org on
-- every page. Its twin is migrations/postgres/0011_number_counts.sql. Only a list with no
-- filter beyond clients (which are WABAs) uses it; any other filter still counts.
CREATE TABLE number_counts (
    org_id TEXT NOT NULL,
    waba_id TEXT NOT NULL,
    numbers INTEGER NOT NULL CHECK (numbers >= 0),
    PRIMARY KEY (org_id, waba_id)
);

INSERT INTO number_counts (org_id, waba_id, numbers)
    SELECT org_id, waba_id, COUNT(*) FROM phone_numbers GROUP BY org_id, waba_id;

CREATE TRIGGER phone_numbers_counted AFTER INSERT ON phone_numbers
BEGIN
    INSERT INTO number_counts (org_id, waba_id, numbers) VALUES (NEW.org_id, NEW.waba_id, 1)
        ON CONFLICT (org_id, waba_id) DO UPDATE SET numbers = numbers + 1;
END;

CREATE TRIGGER phone_numbers_uncounted AFTER DELETE ON phone_numbers
BEGIN
    UPDATE number_counts SET numbers = numbers - 1
        WHERE org_id = OLD.org_id AND waba_id = OLD.waba_id;
END;

-- A sync writes every number's WABA again; only a real move changes the counts.
CREATE TRIGGER phone_numbers_moved AFTER UPDATE OF org_id, waba_id ON phone_numbers
    WHEN OLD.org_id IS NOT NEW.org_id OR OLD.waba_id IS NOT NEW.waba_id
BEGIN
    UPDATE number_counts SET numbers = numbers - 1
        WHERE org_id = OLD.org_id AND waba_id = OLD.waba_id;
    INSERT INTO number_counts (org_id, waba_id, numbers) VALUES (NEW.org_id, NEW.waba_id, 1)
        ON CONFLICT (org_id, waba_id) DO UPDATE SET numbers = numbers + 1;
END;
