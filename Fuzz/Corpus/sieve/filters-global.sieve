# Runs first for every message.
require ["fileinto", "reject"];

# Refuse obvious junk in the SMTP dialogue (550 5.7.1).
if header :contains "subject" ["casino bonus", "crypto giveaway"] {
  reject "Unsolicited offers are not accepted here.";
  stop;
}

# Mailing lists go to a label instead of the main view.
if exists "list-id" {
  fileinto "Lists";
}
