"""Jobs for the failure-group tests: one cause (an unknown customer) failing keys of two ops."""

from __future__ import annotations

from dagviz import DynamicOut, DynamicOutput, job, op

CUSTOMERS = {"c1": "Ada", "c2": "Grace", "c4": "Edsger", "c6": "Barbara"}


@op(out=DynamicOut())
def list_orders():
    for number in range(1, 9):
        yield DynamicOutput(f"c{number}", mapping_key=f"order_{number}")


@op
def address_label(customer_id: str) -> str:
    if customer_id == "c3":
        raise KeyError(f"unknown customer '{customer_id}'")
    return f"To {CUSTOMERS.get(customer_id, 'customer ' + customer_id)}"


@op
def invoice(customer_id: str) -> str:
    if customer_id in ("c5", "c7"):
        raise KeyError(f"unknown customer '{customer_id}'")
    if customer_id == "c8":
        raise ValueError("no price list for region 7")
    return f"invoice for {customer_id}"


@job(description="Orders -> an address label and an invoice each; one unknown customer fails keys of both ops.")
def bill_orders():
    orders = list_orders()
    orders.map(address_label)
    orders.map(invoice)
