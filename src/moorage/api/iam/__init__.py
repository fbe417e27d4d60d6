"""The part of IAM (Keystone v3, as Huawei Cloud speaks it) that the SDKs and scripts need:
password tokens, token validation and revocation, project lookup."""
