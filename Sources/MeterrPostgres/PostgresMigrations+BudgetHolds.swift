extension PostgresMigrations {
    /// A hard budget's hold and its settlement as one statement each (one round trip on a call's
    /// path): functions that become `meterr_app` for one organisation, as every tenant transaction
    /// does, and keep what calls in flight hold on the budget's counter row (`held_nanos`), so the
    /// room left is read from the one row the hold locks.
    static let budgetHoldFunctions: [String] = [
        "ALTER TABLE budget_counters ADD COLUMN held_nanos bigint NOT NULL DEFAULT 0",
        """
        UPDATE budget_counters c SET held_nanos = coalesce((SELECT sum(h.amount_nanos) FROM budget_holds h
            WHERE h.org = c.org AND h.budget_id = c.budget_id AND h.period_start = c.period_start), 0)
        """,
        // Holds `amount` on every budget period given (sorted by budget and period start, so nodes
        // lock rows in one order), or on none: returns no row when held, else the first budget
        // without room and the room it has.
        """
        CREATE FUNCTION meterr_hold(
            p_org text, p_hold text, p_amount bigint, p_budgets text[], p_starts bigint[], p_limits bigint[],
            p_spent bigint[], p_ttl_ms bigint
        ) RETURNS TABLE (refused_budget text, refused_room bigint) LANGUAGE plpgsql AS $$
        DECLARE
            i integer;
            left_over bigint;
        BEGIN
            SET LOCAL ROLE meterr_app;
            PERFORM set_config('app.org_id', p_org, true);
            FOR i IN 1 .. coalesce(array_length(p_budgets, 1), 0) LOOP
                INSERT INTO budget_counters AS c (org, budget_id, period_start, limit_nanos, spent_nanos)
                VALUES (p_org, p_budgets[i], p_starts[i], p_limits[i], p_spent[i])
                ON CONFLICT (org, budget_id, period_start) DO UPDATE SET limit_nanos = excluded.limit_nanos
                RETURNING c.limit_nanos - c.spent_nanos - c.held_nanos INTO left_over;
                IF left_over < p_amount THEN
                    refused_budget := p_budgets[i];
                    refused_room := left_over;
                    RETURN NEXT;
                    RETURN;
                END IF;
            END LOOP;
            UPDATE budget_counters c SET held_nanos = c.held_nanos + p_amount
            FROM unnest(p_budgets, p_starts) AS b (id, start)
            WHERE c.org = p_org AND c.budget_id = b.id AND c.period_start = b.start;
            INSERT INTO budget_holds (org, hold_id, budget_id, period_start, amount_nanos, expires_at)
            SELECT p_org, p_hold, b.id, b.start, p_amount, now() + p_ttl_ms * interval '1 millisecond'
            FROM unnest(p_budgets, p_starts) AS b (id, start);
        END
        $$
        """,
        // Replaces a hold with the call's real cost on every budget it was held on; a hold already
        // charged (it expired first) stays charged.
        """
        CREATE FUNCTION meterr_settle(p_org text, p_hold text, p_actual bigint) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            held record;
        BEGIN
            SET LOCAL ROLE meterr_app;
            PERFORM set_config('app.org_id', p_org, true);
            -- Counter rows in the order holds lock them, so the two never deadlock.
            FOR held IN
                WITH settled AS (
                    DELETE FROM budget_holds h WHERE h.org = p_org AND h.hold_id = p_hold
                    RETURNING h.budget_id, h.period_start, h.amount_nanos
                )
                SELECT * FROM settled ORDER BY budget_id, period_start
            LOOP
                UPDATE budget_counters c
                SET held_nanos = c.held_nanos - held.amount_nanos, spent_nanos = c.spent_nanos + p_actual
                WHERE c.org = p_org AND c.budget_id = held.budget_id AND c.period_start = held.period_start;
            END LOOP;
        END
        $$
        """,
        // Many holds of any organisations at once (a node settles the calls that ended in the last
        // few milliseconds together): as meterr_operator, counters updated in the order holds lock them.
        """
        CREATE FUNCTION meterr_settle_many(p_orgs text[], p_holds text[], p_actuals bigint[]) RETURNS void
        LANGUAGE plpgsql AS $$
        DECLARE
            counter record;
        BEGIN
            SET LOCAL ROLE meterr_operator;
            FOR counter IN
                WITH settled AS (
                    DELETE FROM budget_holds h USING unnest(p_orgs, p_holds, p_actuals) AS s (org, hold_id, actual)
                    WHERE h.org = s.org AND h.hold_id = s.hold_id
                    RETURNING h.org, h.budget_id, h.period_start, h.amount_nanos, s.actual
                )
                SELECT org, budget_id, period_start, sum(amount_nanos)::bigint AS held, sum(actual)::bigint AS spent
                FROM settled GROUP BY org, budget_id, period_start ORDER BY org, budget_id, period_start
            LOOP
                UPDATE budget_counters c
                SET held_nanos = c.held_nanos - counter.held, spent_nanos = c.spent_nanos + counter.spent
                WHERE c.org = counter.org AND c.budget_id = counter.budget_id
                    AND c.period_start = counter.period_start;
            END LOOP;
        END
        $$
        """,
        "GRANT EXECUTE ON FUNCTION meterr_hold, meterr_settle, meterr_settle_many TO meterr_app, meterr_operator",
    ]
}
