SELECT * FROM gold.no_such_dataset
