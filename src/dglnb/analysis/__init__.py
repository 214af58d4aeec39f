"""What the book reads from finished runs: tables beside the paper (``report``, gathering
``versus_paper``, ``table_cells`` and ``curves``), regression goldens and claims (``checks``), each
chapter's claims for the results page (``summary``), training dynamics (``dynamics``), eq. 8 counts
(``eq8``), figures (``plots``) and one step's gradients compared across methods (``updates``)."""
