-- disable the PagBank credentials of a neutralized database
UPDATE payment_provider
   SET pagbank_token = NULL;
