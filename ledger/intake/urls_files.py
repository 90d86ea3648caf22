"""Import of feedback and ledgers, export of the ledger."""

urlpatterns: list = []
