"""One executor interface (concurrent.futures) with local and Dask back ends."""
