"""The citizens' public pages: report without a login, track a case by its code, rate a closed case."""
