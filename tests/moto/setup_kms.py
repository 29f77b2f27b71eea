"""Prepares a moto server for the component's end-to-end test.

With request authentication on (INITIAL_NO_AUTH_ACTION_COUNT=3), the first
three calls create an IAM user allowed to use KMS and its access key; every
later call is signed with that key and checked by moto. Then an RSA_2048
SIGN_VERIFY key is created, as for a GitHub App's private key, and its public
half fetched with GetPublicKey.

Usage: python setup_kms.py ENDPOINT_URL  -> one JSON object on stdout
"""

import base64
import json
import sys

import boto3

REGION = "us-east-1"
USER = "github-app-signer"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["kms:CreateKey", "kms:CreateAlias", "kms:GetPublicKey", "kms:Sign"],
            "Resource": "*",
        }
    ],
}


def main(endpoint: str) -> None:
    bootstrap = dict(
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="bootstrap",
        aws_secret_access_key="bootstrap",
    )
    iam = boto3.client("iam", **bootstrap)
    iam.create_user(UserName=USER)
    iam.put_user_policy(UserName=USER, PolicyName="kms-sign", PolicyDocument=json.dumps(POLICY))
    access_key = iam.create_access_key(UserName=USER)["AccessKey"]

    kms = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key["AccessKeyId"],
        aws_secret_access_key=access_key["SecretAccessKey"],
    )
    key = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]
    kms.create_alias(AliasName="alias/github-app", TargetKeyId=key["KeyId"])
    public_key = kms.get_public_key(KeyId=key["KeyId"])["PublicKey"]
    json.dump(
        {
            "region": REGION,
            "access_key_id": access_key["AccessKeyId"],
            "secret_access_key": access_key["SecretAccessKey"],
            "key_id": key["KeyId"],
            "key_arn": key["Arn"],
            "public_key_der": base64.b64encode(public_key).decode(),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main(sys.argv[1])
