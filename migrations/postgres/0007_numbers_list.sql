-- Indexes of the numbers list (PostgreSQL). Its twin is migrations/sqlite/0007_numbers_list.sql.
--
-- The list picks a page's ids by walking an org's numbers in display order and stops after
-- one page; with the id in the index the order (display number, id) needs no sort.
DROP INDEX phone_numbers_org_display_ix;
CREATE INDEX phone_numbers_org_display_id_ix ON phone_numbers (org_id, display_phone_number, id);
-- Counting an org's numbers (joined to their WABA for the client scope) reads only this.
CREATE INDEX phone_numbers_org_waba_ix ON phone_numbers (org_id, waba_id);
