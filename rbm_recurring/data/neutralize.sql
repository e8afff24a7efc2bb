-- a copied (staging, test) database must never call the customers' systems
UPDATE rbm_provisioning_endpoint SET active = false;
