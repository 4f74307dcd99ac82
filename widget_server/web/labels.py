"""Interface wording for the fixed vocabularies (channels, frequencies), as msgids.

They are translated at render time; center files never have to spell them.
"""

from ..errors import N_

CHANNEL_LABELS = {
    "email": N_("E-mail"),
    "sms": N_("Text message (SMS)"),
    "push": N_("App notifications"),
    "post": N_("Letters by post"),
    "phone": N_("Phone calls"),
    "whatsapp": N_("WhatsApp"),
    "in_app": N_("Messages in the app"),
}

FREQUENCY_LABELS = {
    "realtime": N_("Immediately"),
    "daily": N_("Daily digest"),
    "weekly": N_("Weekly digest"),
    "monthly": N_("Monthly digest"),
}
