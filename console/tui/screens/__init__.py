"""Screens pushed over the views: an alert's detail, an incident, the modals."""
