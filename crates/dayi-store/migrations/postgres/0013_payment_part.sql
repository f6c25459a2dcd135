-- Who paid each payment: the parts of a settlement (the insurance fund,
-- serious-illness insurance, medical assistance, the personal account, and
-- the patient's cash, card or online money). They sum to the payment's
-- amount. Payments made before settlements had parts were paid wholly by the
-- patient, by their method.
CREATE TABLE payment_part (
    org_id     UUID NOT NULL REFERENCES org (org_id),
    payment_id UUID NOT NULL,
    payer      TEXT NOT NULL,
    fen        BIGINT NOT NULL,
    PRIMARY KEY (org_id, payment_id, payer)
);
INSERT INTO payment_part (org_id, payment_id, payer, fen) SELECT org_id, id, method, amount_fen FROM payment;
