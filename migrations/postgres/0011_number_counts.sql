-- How many numbers each WABA holds (PostgreSQL), kept by triggers, so the numbers list
-- reads its total from one small row per WABA instead of counting every number of the org
-- on every page. Its twin is migrations/sqlite/0011_number_counts.sql. Only a list with
-- no filter beyond clients (which are WABAs) uses it; any other filter still counts.
CREATE TABLE number_counts (
    org_id TEXT NOT NULL,
    waba_id TEXT NOT NULL,
    -- INTEGER, so that SUM gives a bigint rather than a numeric.
    numbers INTEGER NOT NULL CHECK (numbers >= 0),
    PRIMARY KEY (org_id, waba_id)
);

-- The count starts from the numbers there are. Under FORCE ROW LEVEL SECURITY the owner
-- running this migration would see no number, so the count reads them with it lifted for
-- the length of this transaction.
ALTER TABLE phone_numbers NO FORCE ROW LEVEL SECURITY;
INSERT INTO number_counts (org_id, waba_id, numbers)
    SELECT org_id, waba_id, COUNT(*) FROM phone_numbers GROUP BY org_id, waba_id;
ALTER TABLE phone_numbers FORCE ROW LEVEL SECURITY;

ALTER TABLE number_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE number_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY number_counts_tenant ON number_counts
    USING (org_id = current_setting('pinward.org_id', true))
    WITH CHECK (org_id = current_setting('pinward.org_id', true));

CREATE FUNCTION number_counts_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO number_counts (org_id, waba_id, numbers) VALUES (NEW.org_id, NEW.waba_id, 1)
        ON CONFLICT (org_id, waba_id) DO UPDATE SET numbers = number_counts.numbers + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION number_counts_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE number_counts SET numbers = numbers - 1
        WHERE org_id = OLD.org_id AND waba_id = OLD.waba_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER phone_numbers_counted AFTER INSERT ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION number_counts_add();
CREATE TRIGGER phone_numbers_uncounted AFTER DELETE ON phone_numbers
    FOR EACH ROW EXECUTE FUNCTION number_counts_remove();
-- A sync writes every number's WABA again; only a real move changes the counts.
CREATE TRIGGER phone_numbers_moved_out AFTER UPDATE OF org_id, waba_id ON phone_numbers
    FOR EACH ROW WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.waba_id IS DISTINCT FROM NEW.waba_id)
    EXECUTE FUNCTION number_counts_remove();
CREATE TRIGGER phone_numbers_moved_in AFTER UPDATE OF org_id, waba_id ON phone_numbers
    FOR EACH ROW WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id OR OLD.waba_id IS DISTINCT FROM NEW.waba_id)
    EXECUTE FUNCTION number_counts_add();
